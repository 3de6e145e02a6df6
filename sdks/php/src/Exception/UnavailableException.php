<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * UNAVAILABLE (503): the service (its database) cannot be reached. Retried automatically.
 */
class UnavailableException extends ApiException
{
}
