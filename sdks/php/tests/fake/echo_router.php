<?php

/*
 * The echo fake: a router for PHP's built-in server (`php -S 127.0.0.1:0 echo_router.php`)
 * that answers each request with what it received, so the unit tests can check the method,
 * the path exactly as sent (still URL-encoded), the query and the JSON body of every call.
 * TestCase::echoServer() starts it.
 *
 * The Bearer key picks the answer:
 *
 *     echo                 200 {"success": true, "data": {"method", "uri", "path", "query",
 *                          "content_type", "idempotency_key", "raw_body", "body"}}
 *                          (body: the decoded JSON, or null when there was none)
 *     error-<CODE>         the API's error envelope for CODE, with its HTTP status and a
 *                          details object typical of it (see ERRORS below)
 *     no-content           204 without a body, as the API answers a domain's DELETE
 */

declare(strict_types=1);

const ERRORS = [
    'MESSAGE_NOT_SCHEDULED' => [409, 'The message is sent, not scheduled.', [
        'message_id' => '<sent.1@fake.test>', 'status' => 'sent',
    ]],
    'TEMPLATE_IN_USE' => [409, '2 scheduled messages use this template.', ['scheduled' => 2]],
    'WEBHOOK_DISABLED' => [409, 'This webhook endpoint is disabled; enable it first.', []],
    'DOMAIN_NOT_VERIFIED' => [422, "The From address's domain is not a verified sender domain of this account.", [
        'domain' => 'unverified.example',
    ]],
    'NOT_FOUND' => [404, 'Not found.', []],
    'VALIDATION_ERROR' => [400, 'The request is not valid.', [
        'template' => ['variables' => ['Missing: name, order_id']],
    ]],
    'FORBIDDEN' => [403, 'This API key lacks the templates permission.', []],
];

function answer(int $status, array $body): void
{
    http_response_code($status);
    header('Content-Type: application/json');
    echo json_encode($body, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
}

$headers = array_change_key_case(getallheaders(), CASE_LOWER);
$key = preg_replace('/^Bearer\s+/', '', $headers['authorization'] ?? '');
$uri = $_SERVER['REQUEST_URI'];
$raw = (string) file_get_contents('php://input');

if (str_starts_with($key, 'error-')) {
    $code = substr($key, strlen('error-'));
    [$status, $message, $details] = ERRORS[$code] ?? [400, "echo fake: unknown error $code", []];
    answer($status, ['success' => false, 'error' => [
        'code' => $code, 'message' => $message, 'details' => (object) $details,
    ]]);

    return true;
}

if ($key === 'no-content') {
    http_response_code(204);

    return true;
}

$cut = strpos($uri, '?');
answer(200, ['success' => true, 'data' => [
    'method' => $_SERVER['REQUEST_METHOD'],
    'uri' => $uri,
    'path' => $cut === false ? $uri : substr($uri, 0, $cut),
    'query' => $cut === false ? '' : substr($uri, $cut + 1),
    'content_type' => $headers['content-type'] ?? null,
    'idempotency_key' => $headers['idempotency-key'] ?? null,
    'raw_body' => $raw,
    'body' => $raw === '' ? null : json_decode($raw, false, 512, JSON_THROW_ON_ERROR),
]]);

return true;
