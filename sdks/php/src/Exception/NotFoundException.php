<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * NOT_FOUND (404): no such message, suppressed address or endpoint for this account.
 */
class NotFoundException extends ApiException
{
}
