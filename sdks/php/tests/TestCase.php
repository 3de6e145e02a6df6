<?php

declare(strict_types=1);

namespace MailPass\Tests;

use MailPass\Client;
use MailPass\Exception\ApiException;

/**
 * Helpers shared by the suite: clients for the live server, the retry fake and the echo
 * fake, the retry fake's log of attempts, and catching an expected exception.
 */
abstract class TestCase extends \PHPUnit\Framework\TestCase
{
    /** A tiny backoff, so the retry tests stay fast; Retry-After is still honoured. */
    protected const FAST = ['backoff_base' => 0.01];

    /** The echo fake's base URL, once this process has started it. */
    private static ?string $echoUrl = null;

    protected static function env(string $name): string
    {
        $value = getenv($name);
        if (!is_string($value) || $value === '') {
            self::markTestSkipped(
                "$name is not set: run this suite through tests/sdks/test_php_sdk.py, which starts "
                . 'a live MailPass and the retry fake'
            );
        }

        return $value;
    }

    /**
     * A client of the live server (base URL from MAILPASS_BASE_URL, as users configure it).
     *
     * @param array<string, mixed> $options
     */
    protected static function live(string $keyVariable = 'MAILPASS_TEST_KEY', array $options = []): Client
    {
        self::env('MAILPASS_BASE_URL');

        return new Client(self::env($keyVariable), $options + self::FAST);
    }

    /**
     * A unique key for the retry fake: the steps it plays, then "~" and a random suffix.
     */
    protected static function script(string $steps): string
    {
        return $steps . '~' . bin2hex(random_bytes(8));
    }

    /**
     * A client of the retry fake; its key is the script.
     *
     * @param array<string, mixed> $options
     */
    protected static function fake(string $key, array $options = []): Client
    {
        return new Client($key, $options + ['base_url' => self::env('MAILPASS_FAKE_URL')] + self::FAST);
    }

    /**
     * A client of the echo fake (tests/fake/echo_router.php), which answers each request
     * with what it received; $key picks the answer ("echo", or "error-<CODE>"). The fake
     * runs on PHP's built-in server, which this process starts on first use, so these
     * tests need no live MailPass.
     */
    protected static function echo(string $key = 'echo'): Client
    {
        return new Client($key, ['base_url' => self::echoServer(), 'max_retries' => 0]);
    }

    /**
     * What the echo fake received for one call: method, uri, path, query, content_type,
     * idempotency_key, raw_body and body (the JSON decoded, or null).
     *
     * @param array{success: bool, data: array<string, mixed>} $answer
     *
     * @return array<string, mixed>
     */
    protected static function received(array $answer): array
    {
        self::assertTrue($answer['success']);

        return $answer['data'];
    }

    private static function echoServer(): string
    {
        if (self::$echoUrl !== null) {
            return self::$echoUrl;
        }
        $log = (string) tempnam(sys_get_temp_dir(), 'mailpass-echo-');
        $command = [PHP_BINARY, '-S', '127.0.0.1:0', __DIR__ . '/fake/echo_router.php'];
        $output = [0 => ['file', '/dev/null', 'r'], 1 => ['file', $log, 'a'], 2 => ['file', $log, 'a']];
        $process = proc_open($command, $output, $pipes);
        self::assertIsResource($process, 'could not start the echo fake (php -S)');
        register_shutdown_function(static function () use ($process, $log): void {
            proc_terminate($process);
            proc_close($process);
            @unlink($log);
        });
        $deadline = microtime(true) + 10;
        while (microtime(true) < $deadline) {
            $started = (string) file_get_contents($log);
            if (preg_match('#\((http://127\.0\.0\.1:\d+)\) started#', $started, $match) === 1) {
                return self::$echoUrl = $match[1];
            }
            usleep(20_000);
        }
        self::fail('the echo fake (php -S) did not start: ' . file_get_contents($log));
    }

    /**
     * Every request the fake received with $key, oldest first.
     *
     * @return list<array{method: string, path: string, headers: array<string, string>, body: string, at: float}>
     */
    protected static function attempts(string $key): array
    {
        $url = self::env('MAILPASS_FAKE_URL') . '/_log/' . rawurlencode($key);
        $json = file_get_contents($url);
        self::assertIsString($json, "could not read $url");

        return json_decode($json, true, 512, JSON_THROW_ON_ERROR);
    }

    /** A fresh address at example.com, so tests never see each other's data. */
    protected static function address(string $name): string
    {
        return $name . '-' . bin2hex(random_bytes(4)) . '@example.com';
    }

    /**
     * Run $call, which must throw an instance of $class; return what it threw.
     *
     * @template T of \Throwable
     *
     * @param class-string<T> $class
     *
     * @return T
     */
    protected static function throws(string $class, callable $call): \Throwable
    {
        try {
            $call();
        } catch (\Throwable $error) {
            if ($error instanceof \PHPUnit\Framework\SkippedTest) {
                throw $error; // a variable the call needs is not set: a skip, not a failure
            }
            self::assertInstanceOf(
                $class,
                $error,
                sprintf('%s thrown instead: %s', get_class($error), $error->getMessage())
            );

            return $error;
        }
        self::fail("$class was not thrown");
    }

    /**
     * The API error's code, status and class, checked in one go.
     *
     * @param class-string<ApiException> $class
     */
    protected static function assertApiError(
        \Throwable $error,
        string $class,
        string $code,
        int $status
    ): void {
        self::assertInstanceOf(ApiException::class, $error);
        self::assertSame($class, get_class($error), $error->getMessage());
        self::assertSame($code, $error->getErrorCode());
        self::assertSame($status, $error->getStatusCode());
        self::assertSame($status, $error->getCode());
        self::assertNotSame('', $error->getMessage());
    }
}
