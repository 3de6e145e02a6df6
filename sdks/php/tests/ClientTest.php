<?php

declare(strict_types=1);

namespace MailPass\Tests;

use MailPass\Client;
use MailPass\Exception;
use MailPass\Exception\ApiException;
use MailPass\Exception\InvalidArgumentException;
use MailPass\Exception\MailPassException;
use MailPass\Exception\NetworkException;
use MailPass\Exception\TimeoutException;
use MailPass\Resource\Domains;
use MailPass\Resource\Mail;
use MailPass\Resource\Suppressions;
use MailPass\Resource\Templates;
use MailPass\Resource\Webhooks;

/**
 * Configuration, the exception hierarchy, and the promise that the key never shows.
 */
final class ClientTest extends TestCase
{
    private const SECRET = 'mp_live_k3y-that-must-never-show-0123456789';

    private string|false $savedBaseUrl = false;

    protected function setUp(): void
    {
        $this->savedBaseUrl = getenv('MAILPASS_BASE_URL');
    }

    protected function tearDown(): void
    {
        putenv($this->savedBaseUrl === false ? 'MAILPASS_BASE_URL' : 'MAILPASS_BASE_URL=' . $this->savedBaseUrl);
    }

    public function testWithoutABaseUrlTheErrorNamesTheOptionAndTheVariable(): void
    {
        putenv('MAILPASS_BASE_URL');
        $error = self::throws(InvalidArgumentException::class, fn () => new Client(self::SECRET));
        self::assertInstanceOf(MailPassException::class, $error);
        self::assertStringContainsString('base_url', $error->getMessage());
        self::assertStringContainsString('MAILPASS_BASE_URL', $error->getMessage());

        putenv('MAILPASS_BASE_URL=');
        self::throws(InvalidArgumentException::class, fn () => new Client(self::SECRET));
    }

    public function testTheBaseUrlComesFromTheOptionElseTheEnvironment(): void
    {
        putenv('MAILPASS_BASE_URL=https://env.example.test/');
        self::assertSame('https://env.example.test', (new Client(self::SECRET))->getBaseUrl());
        $client = new Client(self::SECRET, ['base_url' => 'http://option.example.test:8000///']);
        self::assertSame('http://option.example.test:8000', $client->getBaseUrl());

        $error = self::throws(
            InvalidArgumentException::class,
            fn () => new Client(self::SECRET, ['base_url' => 'ftp://example.test'])
        );
        self::assertStringContainsString('http', $error->getMessage());
    }

    public function testAnEmptyKeyIsRefused(): void
    {
        foreach (['', '   '] as $key) {
            $error = self::throws(
                InvalidArgumentException::class,
                fn () => new Client($key, ['base_url' => 'http://127.0.0.1'])
            );
            self::assertStringContainsString('API key is empty', $error->getMessage());
        }
    }

    public function testOptionsAreChecked(): void
    {
        $base = ['base_url' => 'http://127.0.0.1'];
        $typo = self::throws(
            InvalidArgumentException::class,
            fn () => new Client(self::SECRET, $base + ['max_retry' => 1])
        );
        self::assertStringContainsString('max_retry', $typo->getMessage());
        foreach ([['timeout' => 0], ['timeout' => '5'], ['max_retries' => -1], ['max_retries' => 1.5],
                  ['retry_on_send_limit' => 1], ['backoff_base' => -0.1]] as $bad) {
            self::throws(InvalidArgumentException::class, fn () => new Client(self::SECRET, $base + $bad));
        }
        $client = new Client(self::SECRET, $base + [
            'timeout' => 2, 'max_retries' => 0, 'retry_on_send_limit' => true, 'backoff_base' => 0,
        ]);
        self::assertInstanceOf(Mail::class, $client->mail);
        self::assertInstanceOf(Suppressions::class, $client->suppressions);
        self::assertInstanceOf(Templates::class, $client->templates);
        self::assertInstanceOf(Webhooks::class, $client->webhooks);
        self::assertInstanceOf(Domains::class, $client->domains);
    }

    public function testResourcesAreReadOnly(): void
    {
        $client = new Client(self::SECRET, ['base_url' => 'http://127.0.0.1']);
        $this->expectException(\Error::class);
        /** @phpstan-ignore-next-line */
        $client->mail = $client->mail;
    }

    public function testThePerCallOptionsAreChecked(): void
    {
        $client = new Client(self::SECRET, ['base_url' => 'http://127.0.0.1:9', 'max_retries' => 0]);
        $params = ['to' => 'a@example.com', 'subject' => 'x', 'text' => 'y'];
        foreach ([['idempotencyKey' => 'x'], ['idempotency_key' => ''], ['idempotency_key' => "a\nb"]] as $bad) {
            self::throws(InvalidArgumentException::class, fn () => $client->mail->send($params, $bad));
        }
        self::throws(InvalidArgumentException::class, fn () => $client->mail->status(''));
        self::throws(InvalidArgumentException::class, fn () => $client->suppressions->remove(' '));
        $json = self::throws(InvalidArgumentException::class, fn () => $client->mail->send(['subject' => "\xff"]));
        self::assertStringContainsString('JSON', $json->getMessage());
    }

    public function testTheKeyNeverShowsInDumps(): void
    {
        $client = new Client(self::SECRET, ['base_url' => 'http://127.0.0.1']);
        $dumps = [
            'print_r' => print_r($client, true),
            'var_export' => var_export($client, true),
            'json_encode' => (string) json_encode($client),
            'array cast' => print_r((array) $client, true),
            'mail print_r' => print_r($client->mail, true),
            'suppressions var_export' => var_export($client->suppressions, true),
            'templates print_r' => print_r($client->templates, true),
            'webhooks var_export' => var_export($client->webhooks, true),
            'domains print_r' => print_r($client->domains, true),
        ];
        ob_start();
        var_dump(
            $client,
            $client->mail,
            $client->suppressions,
            $client->templates,
            $client->webhooks,
            $client->domains
        );
        foreach ((array) $client as $property) { // each property, as a debugger walks them
            var_dump($property);
        }
        $dumps['var_dump'] = (string) ob_get_clean();
        foreach ($dumps as $how => $dump) {
            self::assertStringNotContainsString(self::SECRET, $dump, $how);
            self::assertStringNotContainsString('k3y-that', $dump, $how);
        }
        self::assertStringContainsString('[hidden]', $dumps['print_r']);
        self::assertStringContainsString('http://127.0.0.1', $dumps['var_dump']);

        $serialize = self::throws(\LogicException::class, fn () => serialize($client));
        self::assertStringNotContainsString(self::SECRET, $serialize->getMessage());
    }

    public function testTheKeyNeverShowsInErrorsOrTheirTraces(): void
    {
        $previous = ini_set('zend.exception_ignore_args', '0'); // traces with arguments, the worst case
        try {
            putenv('MAILPASS_BASE_URL');
            $config = self::throws(InvalidArgumentException::class, fn () => new Client(self::SECRET));
            $network = self::throws(NetworkException::class, function (): void {
                $client = new Client(self::SECRET, ['base_url' => 'http://127.0.0.1:9', 'max_retries' => 0]);
                $client->mail->send(['to' => 'a@example.com', 'subject' => 'x', 'text' => 'y']);
            });
            foreach ([$config, $network] as $error) {
                self::assertStringNotContainsString(self::SECRET, $error->getMessage());
                self::assertStringNotContainsString(self::SECRET, $error->getTraceAsString());
                self::assertStringNotContainsString(self::SECRET, (string) $error);
                self::assertStringNotContainsString(self::SECRET, print_r($error, true));
                self::assertStringNotContainsString(self::SECRET, var_export($error->getTrace(), true));
            }
        } finally {
            ini_set('zend.exception_ignore_args', (string) $previous);
        }
    }

    public function testEachDocumentedCodeHasItsClassAndUnknownCodesTheBase(): void
    {
        $classes = [
            'VALIDATION_ERROR' => [Exception\ValidationException::class, 400],
            'UNAUTHORIZED' => [Exception\UnauthorizedException::class, 401],
            'FORBIDDEN' => [Exception\ForbiddenException::class, 403],
            'NOT_FOUND' => [Exception\NotFoundException::class, 404],
            'IDEMPOTENCY_CONFLICT' => [Exception\IdempotencyConflictException::class, 409],
            'MESSAGE_NOT_SCHEDULED' => [Exception\MessageNotScheduledException::class, 409],
            'TEMPLATE_IN_USE' => [Exception\TemplateInUseException::class, 409],
            'WEBHOOK_DISABLED' => [Exception\WebhookDisabledException::class, 409],
            'PAYLOAD_TOO_LARGE' => [Exception\PayloadTooLargeException::class, 413],
            'NO_SMTP_PROVIDER' => [Exception\NoSmtpProviderException::class, 422],
            'RECIPIENT_SUPPRESSED' => [Exception\RecipientSuppressedException::class, 422],
            'DOMAIN_NOT_VERIFIED' => [Exception\DomainNotVerifiedException::class, 422],
            'SEND_LIMIT_EXCEEDED' => [Exception\SendLimitExceededException::class, 429],
            'RATE_LIMITED' => [Exception\RateLimitedException::class, 429],
            'SEND_FAILED' => [Exception\SendFailedException::class, 500],
            'INTERNAL_ERROR' => [Exception\InternalErrorException::class, 500],
            'UNAVAILABLE' => [Exception\UnavailableException::class, 503],
            'METHOD_NOT_ALLOWED' => [ApiException::class, 405],
            ApiException::UNEXPECTED_RESPONSE => [ApiException::class, 502],
        ];
        foreach ($classes as $code => [$class, $status]) {
            $error = ApiException::forCode($code, 'The message.', $status, ['message_id' => '<m@x>'], 7);
            self::assertApiError($error, $class, $code, $status);
            self::assertSame('The message.', $error->getMessage());
            self::assertSame('<m@x>', $error->getMessageId());
            self::assertSame(7, $error->getRetryAfter());
            self::assertInstanceOf(MailPassException::class, $error);
        }
        self::assertNull(ApiException::forCode('NOT_FOUND', 'x', 404)->getMessageId());
        self::assertSame([], ApiException::forCode('NOT_FOUND', 'x', 404)->getDetails());
    }

    public function testNetworkAndVerificationErrorsShareTheRootButNotTheApiBase(): void
    {
        $apart = [NetworkException::class, TimeoutException::class, Exception\WebhookVerificationException::class];
        foreach ($apart as $class) {
            $interfaces = class_implements($class);
            self::assertContains(MailPassException::class, $interfaces);
            self::assertFalse(is_subclass_of($class, ApiException::class));
        }
        self::assertTrue(is_subclass_of(TimeoutException::class, NetworkException::class));
        self::assertContains(MailPassException::class, class_implements(InvalidArgumentException::class));
    }

    public function testARefusedConnectionIsANetworkError(): void
    {
        $client = new Client(self::SECRET, ['base_url' => 'http://127.0.0.1:9', 'max_retries' => 1] + self::FAST);
        $error = self::throws(NetworkException::class, fn () => $client->suppressions->list());
        self::assertNotInstanceOf(TimeoutException::class, $error);
        self::assertStringContainsString('/api/v1/suppressions', $error->getMessage());
    }
}
