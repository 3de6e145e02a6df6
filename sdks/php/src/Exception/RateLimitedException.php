<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * RATE_LIMITED (429): too many requests with this key or account; getRetryAfter() says how
 * long to wait. Retried automatically.
 */
class RateLimitedException extends ApiException
{
}
