<?php

declare(strict_types=1);

namespace MailPass\Tests;

use MailPass\Client;
use MailPass\Exception\ApiException;

/**
 * Helpers shared by the suite: clients for the live server and the retry fake, the fake's
 * log of attempts, and catching an expected exception.
 */
abstract class TestCase extends \PHPUnit\Framework\TestCase
{
    /** A tiny backoff, so the retry tests stay fast; Retry-After is still honoured. */
    protected const FAST = ['backoff_base' => 0.01];

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
