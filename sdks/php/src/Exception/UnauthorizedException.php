<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * UNAUTHORIZED (401): the API key is missing, malformed, unknown or revoked.
 */
class UnauthorizedException extends ApiException
{
}
