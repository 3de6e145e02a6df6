<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * FORBIDDEN (403): the API key lacks the permission the endpoint needs (`mail`).
 */
class ForbiddenException extends ApiException
{
}
