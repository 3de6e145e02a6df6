<?php

declare(strict_types=1);

namespace MailPass;

use MailPass\Exception\InvalidArgumentException;
use MailPass\Internal\Transport;
use MailPass\Resource\Domains;
use MailPass\Resource\Mail;
use MailPass\Resource\Suppressions;
use MailPass\Resource\Templates;
use MailPass\Resource\Webhooks;

/**
 * The MailPass API client.
 *
 *     $client = new MailPass\Client('mp_live_...', ['base_url' => 'https://mail.example.com']);
 *     $result = $client->mail->send(['to' => 'a@example.com', 'subject' => 'Hi', 'text' => 'Hello']);
 *     echo $result['data']['message_id'];
 *
 * The API key is never part of an exception message, nor of var_dump(), print_r(),
 * var_export() or serialize() output of the client.
 */
class Client
{
    public const VERSION = '0.1.0';

    /** The environment variable read when the `base_url` option is not given. */
    public const BASE_URL_ENV = 'MAILPASS_BASE_URL';

    private const DEFAULTS = [
        'base_url' => null,
        'timeout' => 30.0,
        'max_retries' => 2,
        'retry_on_send_limit' => false,
        'backoff_base' => 0.5,
    ];

    /** /api/v1/mail: send, sendBatch, status, and cancel and reschedule for scheduled mail. */
    public readonly Mail $mail;

    /** /api/v1/suppressions. */
    public readonly Suppressions $suppressions;

    /** /api/v1/templates. */
    public readonly Templates $templates;

    /** /api/v1/webhooks: the endpoints MailPass posts events to, and their deliveries. */
    public readonly Webhooks $webhooks;

    /** /api/v1/domains: the sender domains, their DNS records, checks and DKIM keys. */
    public readonly Domains $domains;

    private readonly Transport $transport;

    /**
     * @param string $apiKey  an API key of your account (Dashboard > API Keys)
     * @param array{
     *     base_url?: string|null,
     *     timeout?: int|float,
     *     max_retries?: int,
     *     retry_on_send_limit?: bool,
     *     backoff_base?: int|float
     * } $options
     *   - base_url: the root URL of your MailPass instance, e.g. "https://mail.example.com";
     *     default: the MAILPASS_BASE_URL environment variable.
     *   - timeout: seconds one attempt may take (default 30).
     *   - max_retries: retries after the first attempt (default 2; 0 turns retries off).
     *   - retry_on_send_limit: also retry SEND_LIMIT_EXCEEDED (default false).
     *   - backoff_base: seconds before the first retry, doubled after each (default 0.5).
     *     Meant for tests, which shrink it; leave it alone otherwise.
     *
     * @throws InvalidArgumentException an empty key, no base URL, or a bad option
     */
    public function __construct(#[\SensitiveParameter] string $apiKey, array $options = [])
    {
        if (trim($apiKey) === '') {
            throw new InvalidArgumentException(
                'The MailPass API key is empty: pass the key from Dashboard > API Keys to new MailPass\Client().'
            );
        }
        $unknown = array_diff(array_keys($options), array_keys(self::DEFAULTS));
        if ($unknown !== []) {
            throw new InvalidArgumentException(sprintf(
                'Unknown MailPass\Client option(s): %s. Known options: %s.',
                implode(', ', $unknown),
                implode(', ', array_keys(self::DEFAULTS))
            ));
        }
        $options += self::DEFAULTS;

        $this->transport = new Transport(
            $apiKey,
            self::baseUrl($options['base_url']),
            self::number($options['timeout'], 'timeout', false),
            self::count($options['max_retries']),
            self::flag($options['retry_on_send_limit']),
            self::number($options['backoff_base'], 'backoff_base', true)
        );
        $this->mail = new Mail($this->transport);
        $this->suppressions = new Suppressions($this->transport);
        $this->templates = new Templates($this->transport);
        $this->webhooks = new Webhooks($this->transport);
        $this->domains = new Domains($this->transport);
    }

    /** The base URL requests go to, without a trailing slash. */
    public function getBaseUrl(): string
    {
        return $this->transport->baseUrl();
    }

    /**
     * @return array<string, mixed>
     */
    public function __debugInfo(): array
    {
        return $this->transport->__debugInfo();
    }

    private static function baseUrl(mixed $option): string
    {
        if ($option !== null && !is_string($option)) {
            throw new InvalidArgumentException('The base_url option must be a string.');
        }
        $url = $option;
        if ($url === null || trim($url) === '') {
            $env = getenv(self::BASE_URL_ENV);
            $url = is_string($env) ? $env : '';
        }
        $url = rtrim(trim($url), '/');
        if ($url === '') {
            throw new InvalidArgumentException(
                'No MailPass base URL: pass the "base_url" option (e.g. https://mail.example.com) '
                . 'or set the MAILPASS_BASE_URL environment variable.'
            );
        }
        if (preg_match('#^https?://[^/?\#\s]+(/[^?\#\s]*)?$#i', $url) !== 1) {
            throw new InvalidArgumentException(sprintf(
                'The MailPass base URL "%s" is not an http:// or https:// URL.',
                $url
            ));
        }

        return $url;
    }

    private static function number(mixed $value, string $name, bool $zeroAllowed): float
    {
        if ((!is_int($value) && !is_float($value)) || $value < 0 || (!$zeroAllowed && $value == 0)) {
            throw new InvalidArgumentException(sprintf(
                'The %s option must be a number of seconds%s.',
                $name,
                $zeroAllowed ? ', 0 or more' : ' above 0'
            ));
        }

        return (float) $value;
    }

    private static function count(mixed $value): int
    {
        if (!is_int($value) || $value < 0) {
            throw new InvalidArgumentException('The max_retries option must be an integer, 0 or more.');
        }

        return $value;
    }

    private static function flag(mixed $value): bool
    {
        if (!is_bool($value)) {
            throw new InvalidArgumentException('The retry_on_send_limit option must be true or false.');
        }

        return $value;
    }
}
