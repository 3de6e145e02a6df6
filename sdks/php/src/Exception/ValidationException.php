<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * VALIDATION_ERROR (400): a field is missing or invalid, the body is not valid JSON, or a
 * value would be unsafe in a mail header. getDetails() maps each field to its problems.
 */
class ValidationException extends ApiException
{
}
