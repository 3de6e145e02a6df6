<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * The root of every exception this SDK throws.
 *
 * `catch (MailPassException $e)` catches all of them: API errors ({@see ApiException} and
 * its subclasses), network failures ({@see NetworkException}, {@see TimeoutException}),
 * misuse of the client ({@see InvalidArgumentException}), an unreadable attachment file
 * ({@see FileException}) and a webhook request that fails verification
 * ({@see WebhookVerificationException}).
 */
interface MailPassException extends \Throwable
{
}
