<?php

declare(strict_types=1);

namespace MailPass\Internal;

use MailPass\Client;
use MailPass\Exception\ApiException;
use MailPass\Exception\InvalidArgumentException;
use MailPass\Exception\NetworkException;
use MailPass\Exception\TimeoutException;

/**
 * HTTP over ext-curl, the JSON envelope, error mapping and retries.
 *
 * @internal Not part of the public API: use {@see Client} and its resources.
 */
final class Transport
{
    /** Retry-After values above this many seconds are not waited for: the error is thrown. */
    public const MAX_RETRY_AFTER = 60;

    /** The longest pause between two attempts that backoff alone chooses. */
    public const MAX_BACKOFF = 8.0;

    /** How many characters of an unexpected answer's body go into the exception message. */
    private const EXCERPT_CHARS = 200;

    /**
     * The API keys, kept outside the transports' own properties so that no var_dump,
     * print_r, var_export, (array) cast or serialize of a client can show one.
     *
     * @var \WeakMap<Transport, string>|null
     */
    private static ?\WeakMap $keys = null;

    private ?\CurlHandle $curl = null;

    /**
     * @param string $baseUrl          the instance's root URL, without a trailing slash
     * @param float  $timeout          seconds for a whole attempt (connect, send, answer)
     * @param int    $maxRetries       attempts after the first one
     * @param bool   $retryOnSendLimit whether SEND_LIMIT_EXCEEDED is retried too
     * @param float  $backoffBase      seconds before the first retry; doubled each time
     */
    public function __construct(
        #[\SensitiveParameter] string $apiKey,
        private readonly string $baseUrl,
        private readonly float $timeout,
        private readonly int $maxRetries,
        private readonly bool $retryOnSendLimit,
        private readonly float $backoffBase
    ) {
        self::$keys ??= new \WeakMap();
        self::$keys[$this] = $apiKey;
    }

    public function __destruct()
    {
        if ($this->curl !== null) {
            curl_close($this->curl);
        }
    }

    /** A copy would have no key: share the client instead. */
    private function __clone()
    {
    }

    /**
     * @return never
     */
    public function __serialize(): array
    {
        throw new \LogicException('A MailPass client cannot be serialized: it holds an API key.');
    }

    /**
     * @param array<mixed> $data
     */
    public function __unserialize(array $data): void
    {
        throw new \LogicException('A MailPass client cannot be unserialized.');
    }

    /**
     * @return array<string, mixed>
     */
    public function __debugInfo(): array
    {
        return [
            'base_url' => $this->baseUrl,
            'api_key' => '[hidden]',
            'timeout' => $this->timeout,
            'max_retries' => $this->maxRetries,
            'retry_on_send_limit' => $this->retryOnSendLimit,
        ];
    }

    public function baseUrl(): string
    {
        return $this->baseUrl;
    }

    /**
     * Send one API request, retrying what is safe to retry, and return the decoded JSON
     * (for a 204 answer, which has none: `['success' => true, 'data' => null]`).
     *
     * @param string                                $method GET, POST, PATCH or DELETE
     * @param string                                $path   starting with /api/v1/, already encoded
     * @param array<mixed>|null                     $body   JSON body (null: none)
     * @param array<string, string|int|float|bool>  $query
     * @param string|null                           $idempotencyKey sent as Idempotency-Key
     *
     * @return array<mixed>
     *
     * @throws ApiException     the API answered with an error (after the retries)
     * @throws NetworkException no answer (after the retries)
     */
    public function request(
        string $method,
        string $path,
        ?array $body = null,
        array $query = [],
        ?string $idempotencyKey = null
    ): array {
        $url = $this->baseUrl . $path;
        if ($query !== []) {
            $url .= '?' . http_build_query($query, '', '&', PHP_QUERY_RFC3986);
        }
        $headers = [
            'Accept: application/json',
            'User-Agent: mailpass-php/' . Client::VERSION . ' PHP/' . PHP_VERSION,
            // curl would otherwise wait for a "100 Continue" before sending a large body.
            'Expect:',
        ];
        $payload = null;
        if ($body !== null) {
            $payload = self::encode($body);
            $headers[] = 'Content-Type: application/json';
        }
        if ($idempotencyKey !== null) {
            $headers[] = 'Idempotency-Key: ' . $idempotencyKey;
        }

        for ($attempt = 0; ; $attempt++) {
            try {
                return $this->attempt($method, $url, $headers, $payload);
            } catch (ApiException | NetworkException $error) {
                $wait = $attempt < $this->maxRetries ? $this->retryDelay($error, $attempt) : null;
                if ($wait === null) {
                    throw $error;
                }
                usleep((int) round($wait * 1_000_000));
            }
        }
    }

    /**
     * A UUID v4 (random), for Idempotency-Key.
     */
    public static function uuid4(): string
    {
        $bytes = random_bytes(16);
        $bytes[6] = chr((ord($bytes[6]) & 0x0f) | 0x40);
        $bytes[8] = chr((ord($bytes[8]) & 0x3f) | 0x80);

        return vsprintf('%s%s-%s-%s-%s-%s%s%s', str_split(bin2hex($bytes), 4));
    }

    /**
     * Seconds to wait before retrying after $error, or null when it must not be retried.
     */
    private function retryDelay(ApiException|NetworkException $error, int $attempt): ?float
    {
        $retryAfter = null;
        if ($error instanceof ApiException) {
            $code = $error->getErrorCode();
            $retryable = match (true) {
                $code === 'RATE_LIMITED' => true,
                $code === 'SEND_LIMIT_EXCEEDED' => $this->retryOnSendLimit,
                $code === 'SEND_FAILED' => false, // the provider was tried: never again
                default => $error->getStatusCode() >= 500,
            };
            if (!$retryable) {
                return null;
            }
            $retryAfter = $error->getRetryAfter();
            if ($retryAfter !== null && $retryAfter > self::MAX_RETRY_AFTER) {
                return null;
            }
        }
        // Exponential backoff with jitter: half of the step, plus up to the other half.
        $step = min(self::MAX_BACKOFF, $this->backoffBase * 2 ** $attempt);
        $delay = $step / 2 + $step / 2 * (random_int(0, 1_000_000) / 1_000_000);

        return max($delay, (float) ($retryAfter ?? 0));
    }

    /**
     * One HTTP exchange.
     *
     * @param list<string> $headers all but Authorization, which is added here: the key must
     *                              not be an argument, or traces with arguments would hold it
     *
     * @return array<mixed>
     */
    private function attempt(string $method, string $url, array $headers, ?string $payload): array
    {
        if ($this->curl === null) {
            $handle = curl_init();
            if ($handle === false) {
                throw new NetworkException('Could not initialise curl.');
            }
            $this->curl = $handle; // kept, so the connection is reused by the next request
        }
        $curl = $this->curl;
        curl_reset($curl);
        $responseHeaders = [];
        $options = [
            CURLOPT_URL => $url,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_HTTPHEADER => [...$headers, 'Authorization: Bearer ' . $this->key()],
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_PROTOCOLS => CURLPROTO_HTTP | CURLPROTO_HTTPS,
            CURLOPT_NOSIGNAL => true, // lets timeouts under a second work
            CURLOPT_TIMEOUT_MS => max(1, (int) round($this->timeout * 1000)),
            CURLOPT_CONNECTTIMEOUT_MS => max(1, (int) round($this->timeout * 1000)),
            CURLOPT_ENCODING => '', // accept whatever compression curl can decode
            CURLOPT_HEADERFUNCTION => static function ($handle, string $line) use (&$responseHeaders): int {
                if (preg_match('#^HTTP/\S+\s+\d{3}#', $line) === 1) {
                    $responseHeaders = []; // a new answer (after a 1xx): start over
                } elseif (str_contains($line, ':')) {
                    [$name, $value] = explode(':', $line, 2);
                    $responseHeaders[strtolower(trim($name))] = trim($value);
                }

                return strlen($line);
            },
        ];
        if ($method === 'GET') {
            $options[CURLOPT_HTTPGET] = true;
        } elseif ($method === 'POST') {
            $options[CURLOPT_POST] = true;
            $options[CURLOPT_POSTFIELDS] = $payload ?? '';
            if ($payload === null) {
                // No body (cancel): without this, curl would claim a form.
                $options[CURLOPT_HTTPHEADER][] = 'Content-Type:';
            }
        } else {
            $options[CURLOPT_CUSTOMREQUEST] = $method;
            if ($payload !== null) {
                $options[CURLOPT_POSTFIELDS] = $payload;
            }
        }
        curl_setopt_array($curl, $options);

        $body = curl_exec($curl);
        if (!is_string($body)) {
            $errno = curl_errno($curl);
            $what = sprintf('%s %s', $method, self::withoutQuery($url));
            if ($errno === CURLE_OPERATION_TIMEDOUT) {
                throw new TimeoutException($this->scrub(sprintf(
                    'MailPass did not answer %s within %s s.',
                    $what,
                    rtrim(rtrim(sprintf('%.3f', $this->timeout), '0'), '.')
                )));
            }
            throw new NetworkException($this->scrub(sprintf(
                'Could not reach MailPass (%s): %s (curl error %d).',
                $what,
                curl_error($curl),
                $errno
            )));
        }
        $status = (int) curl_getinfo($curl, CURLINFO_RESPONSE_CODE);

        return $this->decode($status, $body, $responseHeaders);
    }

    /**
     * The decoded success body, or the exception for an error answer.
     *
     * @param array<string, string> $headers lower-case names
     *
     * @return array<mixed>
     */
    private function decode(int $status, string $body, array $headers): array
    {
        if ($status === 204) {
            // No Content (a domain's DELETE): the envelope a body would have carried.
            return ['success' => true, 'data' => null];
        }
        $json = json_decode($body, true, 512, JSON_BIGINT_AS_STRING);
        if ($status >= 200 && $status < 300 && is_array($json)) {
            return $json;
        }
        $error = is_array($json) ? ($json['error'] ?? null) : null;
        if ($status >= 300 && is_array($error) && is_string($error['code'] ?? null)) {
            $details = is_array($error['details'] ?? null) ? $error['details'] : [];
            $message = is_string($error['message'] ?? null) && $error['message'] !== ''
                ? $error['message']
                : sprintf('MailPass answered %d %s.', $status, $error['code']);

            throw ApiException::forCode(
                $error['code'],
                $this->scrub($message),
                $status,
                $details,
                self::retryAfter($headers['retry-after'] ?? null, $details)
            );
        }

        throw ApiException::forCode(
            ApiException::UNEXPECTED_RESPONSE,
            $this->scrub(sprintf(
                'Unexpected answer from MailPass: HTTP %d%s, %s',
                $status,
                isset($headers['content-type']) ? ' (' . $headers['content-type'] . ')' : '',
                self::excerpt($body)
            )),
            $status,
            [],
            self::retryAfter($headers['retry-after'] ?? null, [])
        );
    }

    /**
     * Seconds from a Retry-After header (delta-seconds or an HTTP date), else from
     * details.retry_after.
     *
     * @param array<mixed> $details
     */
    private static function retryAfter(?string $header, array $details): ?int
    {
        if ($header !== null && $header !== '') {
            if (ctype_digit($header)) {
                return (int) $header;
            }
            $time = strtotime($header);
            if ($time !== false) {
                return max(0, $time - time());
            }
        }
        $fromDetails = $details['retry_after'] ?? null;
        if (is_int($fromDetails) || (is_float($fromDetails) && $fromDetails >= 0)) {
            return (int) ceil($fromDetails);
        }

        return null;
    }

    private static function excerpt(string $body): string
    {
        if ($body === '') {
            return 'with an empty body.';
        }
        if (preg_match('//u', $body) !== 1) {
            return sprintf('with %d bytes that are not text.', strlen($body));
        }
        $text = trim((string) preg_replace('/\s+/u', ' ', $body));
        preg_match('/^.{0,' . self::EXCERPT_CHARS . '}/su', $text, $match);
        $short = $match[0] ?? '';

        return 'body: ' . $short . (strlen($short) < strlen($text) ? '…' : '');
    }

    private static function withoutQuery(string $url): string
    {
        $cut = strpos($url, '?');

        return $cut === false ? $url : substr($url, 0, $cut);
    }

    /**
     * @param array<mixed> $body
     */
    private static function encode(array $body): string
    {
        try {
            return json_encode(
                $body,
                JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE
                | JSON_PRESERVE_ZERO_FRACTION
            );
        } catch (\JsonException $error) {
            throw new InvalidArgumentException(
                'The parameters cannot be sent as JSON: ' . $error->getMessage() . '.',
                0,
                $error
            );
        }
    }

    private function key(): string
    {
        return self::$keys[$this] ?? '';
    }

    /** $text with the API key blanked out, should an answer or error ever echo it. */
    private function scrub(string $text): string
    {
        $key = $this->key();

        return $key === '' ? $text : str_replace($key, '[hidden]', $text);
    }
}
