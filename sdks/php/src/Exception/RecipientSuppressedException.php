<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * RECIPIENT_SUPPRESSED (422): a recipient is on the suppression list; the message was
 * recorded as suppressed (getMessageId()) and nothing was sent. details.suppressed lists
 * the addresses.
 */
class RecipientSuppressedException extends ApiException
{
}
