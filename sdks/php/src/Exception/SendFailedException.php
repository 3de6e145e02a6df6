<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * SEND_FAILED (500): the provider refused the message or could not be reached. The message
 * is recorded as failed (getMessageId()); details.provider_error says why. Never retried.
 */
class SendFailedException extends ApiException
{
}
