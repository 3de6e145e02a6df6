<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * IDEMPOTENCY_CONFLICT (409): the Idempotency-Key was already used for a different request.
 */
class IdempotencyConflictException extends ApiException
{
}
