<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * INTERNAL_ERROR (500): something went wrong on the server's side. Retried automatically.
 */
class InternalErrorException extends ApiException
{
}
