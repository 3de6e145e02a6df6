<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * The client was used wrongly before any request was made: an empty API key, no base URL,
 * an unknown option, or parameters that cannot be encoded as JSON.
 */
class InvalidArgumentException extends \InvalidArgumentException implements MailPassException
{
}
