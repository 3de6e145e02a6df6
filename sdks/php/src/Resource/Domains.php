<?php

declare(strict_types=1);

namespace MailPass\Resource;

use MailPass\Exception\ApiException;
use MailPass\Exception\InvalidArgumentException;
use MailPass\Exception\NetworkException;
use MailPass\Internal\Transport;

/**
 * The account's sender domains (/api/v1/domains): the domains your From addresses use,
 * each proved by DNS records you publish. A domain MailPass has verified gets its mail
 * DKIM-signed (when it goes through an SMTP or MailPass provider; the other ESPs sign with
 * their own keys). Where only verified domains may send (the account's setting "Only send
 * from verified domains", an instance that requires it for everyone, or mail that may go
 * through the operator's MailPass relay), a From address of any other domain is refused
 * with {@see \MailPass\Exception\DomainNotVerifiedException}. Every call needs a key with
 * the `domains` permission.
 *
 * A domain is named by its id (an int) or its name (a string such as "example.com"); either
 * is URL-encoded into the path. Every method returns the decoded JSON answer,
 * `['success' => true, 'data' => [...]]`, where a domain is
 *
 *     ['id' => 7, 'name' => 'example.com', 'status' => 'pending', 'ed25519' => false,
 *      'signing' => false, 'created_at' => '2026-12-04T10:00:00Z', 'checked_at' => null,
 *      'next_check_at' => '2026-12-04T11:00:00Z', 'verified_at' => null,
 *      'records' => [
 *          ['purpose' => 'dkim', 'type' => 'TXT', 'name' => 'mp20261204._domainkey.example.com',
 *           'value' => 'v=DKIM1; k=rsa; p=MIIB…', 'selector' => 'mp20261204',
 *           'algorithm' => 'rsa-sha256', 'key_state' => 'active',
 *           'status' => 'pending', 'found' => null, 'detail' => ''],
 *          ['purpose' => 'dmarc', 'type' => 'TXT', 'name' => '_dmarc.example.com',
 *           'value' => 'v=DMARC1; p=none', 'status' => 'pending', 'found' => null, 'detail' => ''],
 *      ]]
 *
 * `status`: "pending" until the first check, then "verified" (every required record found
 * as asked) or "failed" (one was missing or wrong); a DNS error leaves it as it was.
 * `signing`: whether its mail is DKIM-signed now. `records`: what to publish, one TXT record
 * each: a "dkim" one per key that signs or is about to (`key_state` "active" or "pending",
 * after {@see rotate()}), an "spf" one only when the instance asks for one, and the "dmarc"
 * one. A record's `status` is that of the last check, `found` the TXT text seen then (null:
 * none) and `detail` why it failed, in English. A domain has one SPF record: if yours has
 * one, add the mechanism to it rather than publishing a second. Times are ISO 8601 in UTC.
 *
 * @phpstan-type DomainRecord array{
 *     purpose: 'dkim'|'spf'|'dmarc',
 *     type: 'TXT',
 *     name: string,
 *     value: string,
 *     selector?: string,
 *     algorithm?: 'rsa-sha256'|'ed25519-sha256',
 *     key_state?: 'active'|'pending',
 *     status: 'pending'|'verified'|'failed',
 *     found: string|null,
 *     detail: string
 * }
 * @phpstan-type Domain array{
 *     id: int,
 *     name: string,
 *     status: 'pending'|'verified'|'failed',
 *     ed25519: bool,
 *     signing: bool,
 *     created_at: string,
 *     checked_at: string|null,
 *     next_check_at: string|null,
 *     verified_at: string|null,
 *     records: list<DomainRecord>
 * }
 */
class Domains
{
    /**
     * @internal Get it from {@see \MailPass\Client::$domains}.
     */
    public function __construct(private readonly Transport $transport)
    {
    }

    /**
     * The account's domains, newest first, 50 per page. A page past the last is a
     * ValidationException.
     *
     * @param int|null $page 1, 2...; null: the server's default, the first
     *
     * @return array{
     *     success: bool,
     *     data: array{total: int, page: int, pages: int, domains: list<Domain>}
     * }
     *
     * @throws ApiException ForbiddenException without the `domains` permission
     * @throws NetworkException
     */
    public function list(?int $page = null): array
    {
        return $this->transport->request(
            'GET',
            '/api/v1/domains',
            null,
            $page === null ? [] : ['page' => $page]
        );
    }

    /**
     * Add a domain (status "pending") with a new RSA DKIM key, and an Ed25519 one as well
     * when `ed25519` is true. The name is stored in lower case, an internationalised one in
     * its ASCII form ("bücher.example" becomes "xn--bcher-kva.example"). Publish the
     * answer's `records`, then {@see verify()}.
     *
     * @param string|array{name: string, ed25519?: bool} $params the name alone, or the API's
     *                                                           fields (`ed25519`: false
     *                                                           when left out)
     *
     * @return array{success: bool, data: array{domain: Domain}}
     *
     * @throws ApiException ValidationException for a name that is not a domain name (an IP
     *                      address, a single label, over 253 characters) or one the account
     *                      already has
     * @throws NetworkException
     */
    public function create(string|array $params): array
    {
        if (is_string($params)) {
            $params = ['name' => $params];
        }

        return $this->transport->request('POST', '/api/v1/domains', $params);
    }

    /**
     * One domain.
     *
     * @return array{success: bool, data: array{domain: Domain}}
     *
     * @throws ApiException NotFoundException for an id or name that is not one of the
     *                      account's domains
     * @throws NetworkException
     */
    public function get(int|string $idOrName): array
    {
        return $this->transport->request('GET', self::path($idOrName));
    }

    /**
     * Delete a domain and its keys: its mail is no longer signed, and refused where only
     * verified domains may send. Answers the deleted domain's id and name.
     *
     * @return array{success: true, data: array{id: int, name: string}}
     *
     * @throws ApiException NotFoundException
     * @throws NetworkException
     */
    public function delete(int|string $idOrName): array
    {
        return $this->transport->request('DELETE', self::path($idOrName));
    }

    /**
     * Check the domain's DNS records now (MailPass also checks on its own, see
     * `next_check_at`) and return the domain with the outcome: its `status`, and each
     * record's `status`, `found` and `detail`. A check that finds a rotation's new DKIM
     * records published makes the new keys active and retires the old ones.
     *
     * @return array{success: bool, data: array{domain: Domain}}
     *
     * @throws ApiException NotFoundException
     * @throws NetworkException
     */
    public function verify(int|string $idOrName): array
    {
        return $this->transport->request('POST', self::path($idOrName) . '/verify');
    }

    /**
     * Start a DKIM key rotation: new keys (`key_state` "pending") under a new selector,
     * whose records appear in `records` next to the current ones. Publish them; the check
     * that finds them switches signing to the new keys. Rotating again while keys are
     * pending makes nothing new and returns the same ones.
     *
     * @param bool|null $ed25519 true: sign with an Ed25519 key (as well as RSA) from now on;
     *                           false: RSA only; null: keep the domain's choice (no body sent)
     *
     * @return array{success: bool, data: array{domain: Domain}}
     *
     * @throws ApiException NotFoundException
     * @throws NetworkException
     */
    public function rotate(int|string $idOrName, ?bool $ed25519 = null): array
    {
        return $this->transport->request(
            'POST',
            self::path($idOrName) . '/rotate',
            $ed25519 === null ? null : ['ed25519' => $ed25519]
        );
    }

    /**
     * @return array<string, mixed>
     */
    public function __debugInfo(): array
    {
        return ['transport' => $this->transport];
    }

    private static function path(int|string $idOrName): string
    {
        if (is_int($idOrName) && $idOrName < 1) {
            throw new InvalidArgumentException(sprintf('The domain id must be 1 or more, not %d.', $idOrName));
        }
        if (is_string($idOrName) && trim($idOrName) === '') {
            throw new InvalidArgumentException('The domain id or name is empty.');
        }

        $segment = rawurlencode((string) $idOrName);
        if ($segment === '.' || $segment === '..') {
            // Left as they are, curl would resolve them as the path's dot segments ("..":
            // /api/v1/) and the call would reach another URL. Encoded, they are a name the
            // server does not know.
            $segment = str_replace('.', '%2E', $segment);
        }

        return '/api/v1/domains/' . $segment;
    }
}
