<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * SEND_LIMIT_EXCEEDED (429): a sending limit is reached: the provider's (details.scope
 * "provider") or the account's daily quota (details.scope "account"). getRetryAfter() says
 * in how many seconds it frees up. Retried only with the `retry_on_send_limit` option.
 */
class SendLimitExceededException extends ApiException
{
}
