<?php

declare(strict_types=1);

namespace MailPass\Tests;

use MailPass\Exception\DomainNotVerifiedException;
use MailPass\Exception\ForbiddenException;
use MailPass\Exception\NotFoundException;
use MailPass\Exception\ValidationException;

/**
 * Sender domains against the live server.
 *
 * MAILPASS_TEST_KEY_DOMAINS: a key with `mail` and `domains` of an account that has no
 * domains; nothing is published in DNS for the domains it adds, so a check fails them.
 * MAILPASS_TEST_KEY_STRICT: a key with `mail` and `domains` of an account with "Only send
 * from verified domains" on, a working provider, and the domain verified.example verified
 * (its records published where the server's DNS checks look). MAILPASS_TEST_KEY has no
 * `domains` permission.
 */
final class LiveDomainsTest extends TestCase
{
    private const UTC = '/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/';

    private const DOMAIN_FIELDS = [
        'id', 'name', 'status', 'ed25519', 'signing', 'created_at', 'checked_at',
        'next_check_at', 'verified_at', 'records',
    ];

    private const RECORD_FIELDS = ['purpose', 'type', 'name', 'value', 'status', 'found', 'detail'];

    private const DKIM_FIELDS = ['selector', 'algorithm', 'key_state'];

    public function testADomainFromCreateToDelete(): void
    {
        $client = self::live('MAILPASS_TEST_KEY_DOMAINS');
        $name = 'sdk-' . bin2hex(random_bytes(5)) . '.example';

        // Create: pending, with one active RSA key's record and the DMARC record to publish.
        $created = $client->domains->create(strtoupper($name)); // stored in lower case
        self::assertTrue($created['success']);
        $domain = $created['data']['domain'];
        self::assertDomainShape($domain);
        self::assertIsInt($domain['id']);
        self::assertSame($name, $domain['name']);
        self::assertSame('pending', $domain['status']);
        self::assertFalse($domain['ed25519']);
        self::assertFalse($domain['signing']);
        self::assertMatchesRegularExpression(self::UTC, $domain['created_at']);
        self::assertNull($domain['checked_at']);
        self::assertNull($domain['verified_at']);
        [$dkim] = self::dkim($domain);
        self::assertStringStartsWith('v=DKIM1; k=rsa; p=', $dkim['value']);
        self::assertSame('rsa-sha256', $dkim['algorithm']);
        self::assertSame('active', $dkim['key_state']);
        self::assertMatchesRegularExpression('/^mp\d{8}$/', $dkim['selector']);
        self::assertSame("{$dkim['selector']}._domainkey.$name", $dkim['name']);
        self::assertSame(['TXT', 'pending', null, ''], [$dkim['type'], $dkim['status'], $dkim['found'], $dkim['detail']]);
        [$dmarc] = self::records($domain, 'dmarc');
        self::assertSame("_dmarc.$name", $dmarc['name']);
        self::assertStringStartsWith('v=DMARC1;', $dmarc['value']);
        self::assertStringNotContainsString('PRIVATE', json_encode($created, JSON_THROW_ON_ERROR));
        $id = $domain['id'];

        // Read it back by id, by name (any case) and in the list.
        self::assertSame(['domain' => $domain], $client->domains->get($id)['data']);
        self::assertSame(['domain' => $domain], $client->domains->get($name)['data']);
        self::assertSame($domain['id'], $client->domains->get(strtoupper($name))['data']['domain']['id']);
        $listed = $client->domains->list()['data'];
        self::assertSame(1, $listed['page']);
        self::assertGreaterThanOrEqual(1, $listed['total']);
        self::assertContains($domain, $listed['domains']);
        self::assertSame($listed, $client->domains->list(1)['data']);

        // Verify now: nothing is published for it, so it fails, and the DKIM record says why.
        $checked = $client->domains->verify($name)['data']['domain'];
        self::assertDomainShape($checked);
        self::assertSame('failed', $checked['status']);
        self::assertFalse($checked['signing']);
        self::assertMatchesRegularExpression(self::UTC, (string) $checked['checked_at']);
        [$failed] = self::dkim($checked);
        self::assertSame('failed', $failed['status']);
        self::assertNull($failed['found']);
        self::assertNotSame('', $failed['detail']);

        // Rotate: a second DKIM record, of a pending key under a new selector.
        $rotated = $client->domains->rotate($id)['data']['domain'];
        self::assertDomainShape($rotated);
        $records = self::dkim($rotated);
        self::assertCount(2, $records);
        $states = array_column($records, 'key_state', 'selector');
        self::assertSame('active', $states[$dkim['selector']]);
        $pending = array_values(array_filter($records, fn (array $r): bool => $r['key_state'] === 'pending'));
        self::assertCount(1, $pending);
        self::assertNotSame($dkim['selector'], $pending[0]['selector']);
        self::assertStringStartsWith('v=DKIM1; k=rsa; p=', $pending[0]['value']);
        self::assertNotSame($dkim['value'], $pending[0]['value']);

        // Rotate again while that key is pending: the same keys, nothing new.
        $again = $client->domains->rotate($name)['data']['domain'];
        self::assertSame(self::selectors($rotated), self::selectors($again));
        self::assertSame(array_column(self::dkim($rotated), 'value'), array_column(self::dkim($again), 'value'));

        // The same name again, or no domain name at all: refused.
        $twice = self::throws(ValidationException::class, fn () => $client->domains->create($name));
        self::assertApiError($twice, ValidationException::class, 'VALIDATION_ERROR', 400);
        self::assertArrayHasKey('name', $twice->getDetails());
        $tooLong = implode('.', array_fill(0, 4, str_repeat('a', 63))) . '.example'; // 263 characters
        foreach (['127.0.0.1', 'localhost', 'not a domain.example', $tooLong] as $bad) {
            $error = self::throws(ValidationException::class, fn () => $client->domains->create(['name' => $bad]));
            self::assertArrayHasKey('name', $error->getDetails(), $bad);
        }

        // Delete: gone, by id and by name.
        self::assertDeleted($client->domains->delete($name), $id, $name);
        foreach ([$id, $name] as $ref) {
            $gone = self::throws(NotFoundException::class, fn () => $client->domains->get($ref));
            self::assertApiError($gone, NotFoundException::class, 'NOT_FOUND', 404);
        }
        self::throws(NotFoundException::class, fn () => $client->domains->delete($id));
        self::throws(NotFoundException::class, fn () => $client->domains->verify($name));
        self::throws(NotFoundException::class, fn () => $client->domains->rotate($name));
        self::assertNotContains($id, array_column($client->domains->list()['data']['domains'], 'id'));
    }

    public function testEd25519AndAnInternationalName(): void
    {
        $client = self::live('MAILPASS_TEST_KEY_DOMAINS');
        $label = 'sdk-' . bin2hex(random_bytes(5));

        // An IDN is stored as punycode; Ed25519 adds a second key next to the RSA one.
        $domain = $client->domains->create(['name' => "$label.bücher.example", 'ed25519' => true])['data']['domain'];
        $name = "$label.xn--bcher-kva.example";
        self::assertSame($name, $domain['name']);
        self::assertTrue($domain['ed25519']);
        $keys = array_column(self::dkim($domain), 'algorithm', 'selector');
        ksort($keys);
        [$rsa, $ed] = array_keys($keys);
        self::assertSame(['rsa-sha256', 'ed25519-sha256'], [$keys[$rsa], $keys[$ed]]);
        self::assertSame($rsa . 'e', $ed);
        $byAlgorithm = array_column(self::dkim($domain), 'value', 'algorithm');
        self::assertStringStartsWith('v=DKIM1; k=ed25519; p=', $byAlgorithm['ed25519-sha256']);
        self::assertSame($domain['id'], $client->domains->get($name)['data']['domain']['id']);

        // Rotating with ed25519 false drops it from now on: the new pending key is RSA alone.
        $rotated = $client->domains->rotate($domain['id'], false)['data']['domain'];
        self::assertFalse($rotated['ed25519']);
        $pending = array_filter(self::dkim($rotated), fn (array $r): bool => $r['key_state'] === 'pending');
        self::assertSame(['rsa-sha256'], array_values(array_column($pending, 'algorithm')));

        self::assertDeleted($client->domains->delete($domain['id']), $domain['id'], $name);
        self::throws(NotFoundException::class, fn () => $client->domains->get($domain['id']));
    }

    public function testOnlyVerifiedDomainsSendWhenTheAccountSaysSo(): void
    {
        $client = self::live('MAILPASS_TEST_KEY_STRICT');

        $verified = $client->domains->get('verified.example')['data']['domain'];
        self::assertDomainShape($verified);
        self::assertSame(['verified.example', 'verified', true], [$verified['name'], $verified['status'], $verified['signing']]);
        self::assertMatchesRegularExpression(self::UTC, (string) $verified['verified_at']);
        foreach (self::dkim($verified) as $record) {
            self::assertSame('verified', $record['status']);
        }

        $message = ['to' => self::address('domains'), 'subject' => 'From a verified domain', 'text' => 'Signed.'];
        $sent = $client->mail->send($message + ['from_email' => 'hello@verified.example']);
        self::assertSame('sent', $sent['data']['status']);
        self::assertStringContainsString('hello@verified.example', $sent['data']['from']);

        $refused = self::throws(
            DomainNotVerifiedException::class,
            fn () => $client->mail->send($message + ['from_email' => 'hello@unverified.example'])
        );
        self::assertApiError($refused, DomainNotVerifiedException::class, 'DOMAIN_NOT_VERIFIED', 422);
        self::assertSame('unverified.example', $refused->getDetails()['domain']);
        self::assertNull($refused->getMessageId()); // nothing was stored

        $batch = $client->mail->sendBatch(['messages' => [
            $message + ['from_email' => 'hello@verified.example', 'subject' => 'Batch, verified'],
            $message + ['from_email' => 'hello@unverified.example', 'subject' => 'Batch, unverified'],
        ]])['data'];
        self::assertSame([2, 1, 1], [$batch['total'], $batch['queued'], $batch['failed']]);
        [$queued, $failed] = $batch['messages'];
        self::assertSame('queued', $queued['status']);
        self::assertArrayHasKey('message_id', $queued);
        self::assertSame('failed', $failed['status']);
        self::assertSame('DOMAIN_NOT_VERIFIED', $failed['error']['code']);
        self::assertSame('unverified.example', $failed['error']['details']['domain']);
        self::assertArrayNotHasKey('message_id', $failed);
    }

    public function testDomainsNeedTheDomainsPermission(): void
    {
        $client = self::live(); // `mail` only
        $calls = [
            fn () => $client->domains->list(),
            fn () => $client->domains->create('sdk-forbidden.example'),
            fn () => $client->domains->get('verified.example'),
        ];
        foreach ($calls as $call) {
            $error = self::throws(ForbiddenException::class, $call);
            self::assertApiError($error, ForbiddenException::class, 'FORBIDDEN', 403);
        }
    }

    /**
     * A delete's answer: the contract's 204 without a body (data null), or a 200 that names
     * the domain deleted, as the server answers at the time of writing.
     *
     * @param array<string, mixed> $answer
     */
    private static function assertDeleted(array $answer, int $id, string $name): void
    {
        self::assertTrue($answer['success']);
        if ($answer['data'] !== null) {
            self::assertSame(['id' => $id, 'name' => $name], $answer['data']);
        }
    }

    /**
     * @param array<string, mixed> $domain
     */
    private static function assertDomainShape(array $domain): void
    {
        self::assertEqualsCanonicalizing(self::DOMAIN_FIELDS, array_keys($domain));
        self::assertContains($domain['status'], ['pending', 'verified', 'failed']);
        foreach ($domain['records'] as $record) {
            $fields = $record['purpose'] === 'dkim' ? [...self::RECORD_FIELDS, ...self::DKIM_FIELDS] : self::RECORD_FIELDS;
            self::assertEqualsCanonicalizing($fields, array_keys($record), $record['purpose']);
            self::assertContains($record['purpose'], ['dkim', 'spf', 'dmarc']);
            self::assertSame('TXT', $record['type']);
        }
        self::assertCount(1, self::records($domain, 'dmarc'));
        self::assertLessThanOrEqual(1, count(self::records($domain, 'spf')));
    }

    /**
     * @param array<string, mixed> $domain
     *
     * @return list<array<string, mixed>>
     */
    private static function records(array $domain, string $purpose): array
    {
        return array_values(array_filter($domain['records'], fn (array $r): bool => $r['purpose'] === $purpose));
    }

    /**
     * @param array<string, mixed> $domain
     *
     * @return list<array<string, mixed>>
     */
    private static function dkim(array $domain): array
    {
        return self::records($domain, 'dkim');
    }

    /**
     * @param array<string, mixed> $domain
     *
     * @return list<string>
     */
    private static function selectors(array $domain): array
    {
        $selectors = array_column(self::dkim($domain), 'selector');
        sort($selectors);

        return $selectors;
    }
}
