<?php

declare(strict_types=1);

namespace MailPass;

use MailPass\Exception\InvalidArgumentException;
use MailPass\Exception\WebhookVerificationException;

/**
 * For the application that receives MailPass's webhooks: check that a request really comes
 * from MailPass, unchanged and recent, before acting on it.
 *
 * MailPass signs each event the Standard Webhooks way. Three headers come with the JSON body:
 * `webhook-id` (the event's id, the same on every retry of it), `webhook-timestamp` (Unix
 * seconds of this attempt) and `webhook-signature`, one or more space-separated `v1,<sig>`
 * entries (two while a rotated secret's predecessor still signs), where `<sig>` is the
 * base64 of HMAC-SHA256 over "<id>.<timestamp>.<body>", keyed with the base64-decoded part
 * of the endpoint's secret after "whsec_".
 *
 *     $event = MailPass\Webhook::verify(
 *         file_get_contents('php://input'), // the raw body, before any JSON decoding
 *         getallheaders(),
 *         getenv('MAILPASS_WEBHOOK_SECRET') // "whsec_…", from create() or rotateSecret()
 *     );
 *     // $event['type'] === 'email.bounced', $event['data']['to'], ...
 *
 * Only PHP's own hash_hmac() and hash_equals() are used: no other package.
 */
final class Webhook
{
    /** How far (seconds) a request's timestamp may be from now, either way, by default. */
    public const DEFAULT_TOLERANCE = 300;

    /** The prefix of a MailPass webhook secret; the rest is the key in base64. */
    public const SECRET_PREFIX = 'whsec_';

    private const ID = 'webhook-id';
    private const TIMESTAMP = 'webhook-timestamp';
    private const SIGNATURE = 'webhook-signature';

    private function __construct()
    {
    }

    /**
     * Verify a webhook request and return its event, the JSON body decoded:
     * `['type' => 'email.delivered', 'created_at' => '…', 'test' => false, 'data' => [...]]`.
     *
     * Checks that the `webhook-id`, `webhook-timestamp` and `webhook-signature` headers are
     * there; that the timestamp is at most $tolerance seconds older or newer than now (an
     * old request replayed is refused); and that one of the `v1` signatures is that of the
     * body with $secret, compared in constant time. Acting on an event more than once is
     * still possible (MailPass delivers at least once): ignore a `webhook-id` you have seen.
     *
     * @param string              $payload   the request body exactly as received (bytes),
     *                                       e.g. file_get_contents('php://input'); not
     *                                       a json_encode() of its decoded form
     * @param array<string|int, mixed> $headers the request headers, names in any case:
     *                                       getallheaders(), a PSR-7 getHeaders() (lists
     *                                       of values), or $_SERVER (HTTP_WEBHOOK_ID...)
     * @param string              $secret    the endpoint's secret, "whsec_…"
     * @param int                 $tolerance seconds, 0 or more (default 300)
     * @param int|null            $now       Unix seconds to judge the timestamp by;
     *                                       null: the current time (tests pass their own)
     *
     * @return array<string, mixed> the event
     *
     * @throws WebhookVerificationException the request is not a genuine, recent MailPass
     *                                      webhook: answer it with a 400 and ignore it
     * @throws InvalidArgumentException     $secret is not a whsec_ secret, or $tolerance
     *                                      is negative: a mistake in the receiver itself
     */
    public static function verify(
        string $payload,
        array $headers,
        #[\SensitiveParameter] string $secret,
        int $tolerance = self::DEFAULT_TOLERANCE,
        ?int $now = null
    ): array {
        if ($tolerance < 0) {
            throw new InvalidArgumentException('The webhook tolerance must be 0 seconds or more.');
        }
        $key = self::key($secret);
        $found = self::headers($headers);
        $id = self::single($found, self::ID);
        $timestamp = self::single($found, self::TIMESTAMP);
        $signatures = preg_split('/\s+/', implode(' ', $found[self::SIGNATURE] ?? []), -1, PREG_SPLIT_NO_EMPTY);
        if ($signatures === false || $signatures === []) {
            throw new WebhookVerificationException('The webhook-signature header is missing.');
        }

        if (preg_match('/^\d{1,12}$/', $timestamp) !== 1) {
            throw new WebhookVerificationException(sprintf(
                'The webhook-timestamp header is not a Unix time in seconds: "%s".',
                self::printable($timestamp)
            ));
        }
        $now ??= time();
        $age = $now - (int) $timestamp;
        if ($age > $tolerance) {
            throw new WebhookVerificationException(sprintf(
                'The webhook is too old: its timestamp is %d s before now (tolerance: %d s).',
                $age,
                $tolerance
            ));
        }
        if (-$age > $tolerance) {
            throw new WebhookVerificationException(sprintf(
                'The webhook timestamp is %d s in the future (tolerance: %d s).',
                -$age,
                $tolerance
            ));
        }

        $expected = base64_encode(hash_hmac('sha256', $id . '.' . $timestamp . '.' . $payload, $key, true));
        $matched = false;
        foreach ($signatures as $entry) {
            [$version, $signature] = array_pad(explode(',', $entry, 2), 2, '');
            if ($version === 'v1' && hash_equals($expected, $signature)) {
                $matched = true;
            }
        }
        if (!$matched) {
            throw new WebhookVerificationException(
                'No webhook signature matches the body with this secret: the body was changed, '
                . 'or the secret is not this endpoint\'s.'
            );
        }

        $event = json_decode($payload, true, 512, JSON_BIGINT_AS_STRING);
        if (!is_array($event) || !str_starts_with(ltrim($payload), '{')) {
            throw new WebhookVerificationException('The webhook body is signed but is not a JSON object.');
        }

        return $event;
    }

    /**
     * The HMAC key: the secret's base64 part, decoded.
     */
    private static function key(#[\SensitiveParameter] string $secret): string
    {
        $encoded = str_starts_with($secret, self::SECRET_PREFIX)
            ? substr($secret, strlen(self::SECRET_PREFIX))
            : $secret;
        $key = base64_decode($encoded, true);
        if ($key === false || $key === '') {
            throw new InvalidArgumentException(
                'The webhook secret is not a MailPass endpoint secret ("whsec_" and base64): '
                . 'use the one that webhooks->create() or webhooks->rotateSecret() returned.'
            );
        }

        return $key;
    }

    /**
     * The three webhook headers' values, by lower-case name, from any of the usual shapes.
     *
     * @param array<string|int, mixed> $headers
     *
     * @return array<string, list<string>>
     */
    private static function headers(array $headers): array
    {
        $found = [];
        foreach ($headers as $name => $value) {
            if (!is_string($name)) {
                continue;
            }
            $name = strtolower(str_replace('_', '-', trim($name)));
            if (str_starts_with($name, 'http-')) {
                $name = substr($name, strlen('http-')); // $_SERVER's HTTP_WEBHOOK_ID
            }
            if ($name !== self::ID && $name !== self::TIMESTAMP && $name !== self::SIGNATURE) {
                continue;
            }
            foreach (is_array($value) ? $value : [$value] as $one) {
                if (is_string($one) || is_int($one)) {
                    $found[$name][] = trim((string) $one);
                }
            }
        }

        return $found;
    }

    /**
     * The one value of a header that must have one.
     *
     * @param array<string, list<string>> $found
     */
    private static function single(array $found, string $name): string
    {
        $values = array_values(array_unique(array_filter(
            $found[$name] ?? [],
            static fn (string $value): bool => $value !== ''
        )));
        if ($values === []) {
            throw new WebhookVerificationException("The $name header is missing.");
        }
        if (count($values) > 1) {
            throw new WebhookVerificationException("The request has more than one $name header.");
        }

        return $values[0];
    }

    private static function printable(string $text): string
    {
        return (string) preg_replace('/[^\x20-\x7e]/', '?', substr($text, 0, 40));
    }
}
