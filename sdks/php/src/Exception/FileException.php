<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * A file given to {@see \MailPass\Attachment::fromPath()} could not be read: it does not
 * exist, is a directory, or may not be read. The message names the path and the reason.
 *
 * It is a \RuntimeException, as PHP's own SplFileObject throws for a file it cannot open,
 * and a MailPassException like everything else this SDK throws.
 */
class FileException extends \RuntimeException implements MailPassException
{
}
