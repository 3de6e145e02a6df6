<?php

declare(strict_types=1);

namespace MailPass\Tests;

use MailPass\Exception\ApiException;
use MailPass\Exception\DomainNotVerifiedException;
use MailPass\Exception\ForbiddenException;
use MailPass\Exception\InvalidArgumentException;
use MailPass\Exception\NotFoundException;
use MailPass\Exception\ValidationException;

/**
 * $client->domains: each call's method, path, query and body as the echo fake receives
 * them, a name URL-encoded into the path, the bodiless 204 of delete(), and
 * DOMAIN_NOT_VERIFIED's own exception.
 */
final class DomainsTest extends TestCase
{
    public function testListAsksForAPageOnlyWhenGivenOne(): void
    {
        $client = self::echo();
        $first = self::received($client->domains->list());
        self::assertSame(['GET', '/api/v1/domains', ''], [$first['method'], $first['uri'], $first['raw_body']]);

        $second = self::received($client->domains->list(2));
        self::assertSame(['GET', '/api/v1/domains?page=2', ''], [$second['method'], $second['uri'], $second['raw_body']]);
    }

    public function testCreatePostsTheNameAndEd25519OnlyWhenGiven(): void
    {
        $client = self::echo();
        $bare = self::received($client->domains->create('example.com'));
        self::assertSame(['POST', '/api/v1/domains'], [$bare['method'], $bare['uri']]);
        self::assertSame('application/json', $bare['content_type']);
        self::assertSame('{"name":"example.com"}', $bare['raw_body']);
        self::assertNull($bare['idempotency_key']);

        $fields = self::received($client->domains->create(['name' => 'example.com']));
        self::assertSame('{"name":"example.com"}', $fields['raw_body']);

        $ed25519 = self::received($client->domains->create(['name' => 'example.com', 'ed25519' => true]));
        self::assertSame('{"name":"example.com","ed25519":true}', $ed25519['raw_body']);

        $rsaOnly = self::received($client->domains->create(['name' => 'example.com', 'ed25519' => false]));
        self::assertSame('{"name":"example.com","ed25519":false}', $rsaOnly['raw_body']);

        // A name goes as it is, for the server to judge and to turn into punycode.
        $idn = self::received($client->domains->create('Bücher.example'));
        self::assertSame('{"name":"Bücher.example"}', $idn['raw_body']);
    }

    public function testGetVerifyAndRotateNameTheDomainByIdOrName(): void
    {
        $client = self::echo();
        foreach ([[7, '7'], ['example.com', 'example.com'], ['mail.example.com', 'mail.example.com']] as [$ref, $inPath]) {
            $got = self::received($client->domains->get($ref));
            self::assertSame(['GET', "/api/v1/domains/$inPath", ''], [$got['method'], $got['uri'], $got['raw_body']]);

            $verified = self::received($client->domains->verify($ref));
            self::assertSame(
                ['POST', "/api/v1/domains/$inPath/verify", ''],
                [$verified['method'], $verified['uri'], $verified['raw_body']]
            );
            self::assertNull($verified['idempotency_key']);

            $rotated = self::received($client->domains->rotate($ref));
            self::assertSame(
                ['POST', "/api/v1/domains/$inPath/rotate", ''],
                [$rotated['method'], $rotated['uri'], $rotated['raw_body']]
            );
        }
    }

    public function testRotateSendsEd25519OnlyWhenGiven(): void
    {
        $client = self::echo();
        $on = self::received($client->domains->rotate(7, true));
        self::assertSame(['POST', '/api/v1/domains/7/rotate'], [$on['method'], $on['uri']]);
        self::assertSame('{"ed25519":true}', $on['raw_body']);
        self::assertSame('application/json', $on['content_type']);

        $off = self::received($client->domains->rotate('example.com', false));
        self::assertSame('/api/v1/domains/example.com/rotate', $off['uri']);
        self::assertSame('{"ed25519":false}', $off['raw_body']);

        $keep = self::received($client->domains->rotate('example.com', null));
        self::assertSame('', $keep['raw_body']);
    }

    public function testANameIsUrlEncodedIntoThePath(): void
    {
        $client = self::echo();
        $cases = [
            'bücher.example' => '/api/v1/domains/b%C3%BCcher.example',
            'a/b.example' => '/api/v1/domains/a%2Fb.example',
            'x?y#z.example' => '/api/v1/domains/x%3Fy%23z.example',
            'sp ace.example' => '/api/v1/domains/sp%20ace.example',
            // Dot segments are encoded too: curl would otherwise resolve them (".." to /api/v1/).
            '..' => '/api/v1/domains/%2E%2E',
            '.' => '/api/v1/domains/%2E',
            '...' => '/api/v1/domains/...',
        ];
        foreach ($cases as $name => $path) {
            self::assertSame($path, self::received($client->domains->get($name))['uri'], $name);
            self::assertSame("$path/verify", self::received($client->domains->verify($name))['uri'], $name);
            self::assertSame("$path/rotate", self::received($client->domains->rotate($name, true))['uri'], $name);
            self::assertSame($path, self::received($client->domains->delete($name))['uri'], $name);
        }
    }

    public function testDeleteSendsNoBodyAndItsBodiless204IsASuccess(): void
    {
        $echoed = self::received(self::echo()->domains->delete('example.com'));
        self::assertSame(
            ['DELETE', '/api/v1/domains/example.com', ''],
            [$echoed['method'], $echoed['uri'], $echoed['raw_body']]
        );
        self::assertSame('/api/v1/domains/7', self::received(self::echo()->domains->delete(7))['uri']);

        self::assertSame(['success' => true, 'data' => null], self::echo('no-content')->domains->delete('example.com'));
        self::assertSame(['success' => true, 'data' => null], self::echo('no-content')->domains->delete(7));
    }

    public function testAnEmptyNameOrAnIdBelowOneIsRefusedBeforeAnyRequest(): void
    {
        $client = self::echo('error-NOT_FOUND'); // were a request made, NotFoundException
        foreach (['', ' ', 0, -3] as $bad) {
            $calls = [
                fn () => $client->domains->get($bad),
                fn () => $client->domains->delete($bad),
                fn () => $client->domains->verify($bad),
                fn () => $client->domains->rotate($bad),
                fn () => $client->domains->rotate($bad, true),
            ];
            foreach ($calls as $call) {
                $error = self::throws(InvalidArgumentException::class, $call);
                self::assertStringContainsString(
                    is_int($bad) ? 'domain id must be 1 or more' : 'domain id or name is empty',
                    $error->getMessage()
                );
            }
        }
    }

    public function testDomainNotVerifiedIsItsOwnExceptionWithTheDomain(): void
    {
        $client = self::echo('error-DOMAIN_NOT_VERIFIED');
        $calls = [
            fn () => $client->mail->send([
                'to' => 'a@example.com', 'from_email' => 'hello@unverified.example', 'subject' => 'x', 'text' => 'y',
            ]),
            fn () => $client->mail->sendBatch(['messages' => [
                ['to' => 'a@example.com', 'subject' => 'x', 'text' => 'y'],
            ], 'from_email' => 'hello@unverified.example']),
        ];
        foreach ($calls as $call) {
            $error = self::throws(DomainNotVerifiedException::class, $call);
            self::assertApiError($error, DomainNotVerifiedException::class, 'DOMAIN_NOT_VERIFIED', 422);
            self::assertInstanceOf(ApiException::class, $error);
            self::assertSame(['domain' => 'unverified.example'], $error->getDetails());
            self::assertSame(
                "The From address's domain is not a verified sender domain of this account.",
                $error->getMessage()
            );
            self::assertNull($error->getMessageId());
        }
        $mapped = ApiException::forCode('DOMAIN_NOT_VERIFIED', 'Not verified.', 422, ['domain' => 'x.example']);
        self::assertInstanceOf(DomainNotVerifiedException::class, $mapped);
    }

    public function testTheOtherErrorsOfDomainsMapAsEverywhere(): void
    {
        $invalid = self::throws(
            ValidationException::class,
            fn () => self::echo('error-VALIDATION_ERROR')->domains->create('127.0.0.1')
        );
        self::assertApiError($invalid, ValidationException::class, 'VALIDATION_ERROR', 400);

        $unknown = self::throws(
            NotFoundException::class,
            fn () => self::echo('error-NOT_FOUND')->domains->get('nobody.example')
        );
        self::assertApiError($unknown, NotFoundException::class, 'NOT_FOUND', 404);

        $forbidden = self::throws(ForbiddenException::class, fn () => self::echo('error-FORBIDDEN')->domains->list());
        self::assertApiError($forbidden, ForbiddenException::class, 'FORBIDDEN', 403);
    }
}
