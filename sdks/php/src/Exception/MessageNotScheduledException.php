<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * MESSAGE_NOT_SCHEDULED (409): cancel() or reschedule() of a message that is no longer
 * (or never was) waiting for its time: it is queued, sent, failed... The message names the
 * status; details.message_id (getMessageId()) and details.status say which message and what
 * it is now. Cancelling a message that is already cancelled is not this error: it answers
 * 200 again.
 */
class MessageNotScheduledException extends ApiException
{
}
