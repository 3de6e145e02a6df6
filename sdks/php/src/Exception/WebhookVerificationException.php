<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * A request that claims to be a MailPass webhook did not pass
 * {@see \MailPass\Webhook::verify()}: a `webhook-*` header is missing or malformed, its
 * timestamp is outside the tolerance, no signature matches the body, or the signed body is
 * not a JSON object. The message says which. Answer such a request with a 4xx and do not
 * act on it.
 *
 * It is a \RuntimeException, as something the sender did (not a misuse of the SDK), and a
 * MailPassException like everything else this SDK throws. It is not an ApiException: no
 * MailPass API call was made.
 */
class WebhookVerificationException extends \RuntimeException implements MailPassException
{
}
