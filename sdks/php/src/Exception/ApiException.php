<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * The API answered with an error (any status outside 2xx).
 *
 * The message is the API's own `error.message`. A subclass per documented error code is
 * thrown (see {@see ApiException::forCode()}); an unknown code gives this class itself, and
 * so does an answer that is not the API's JSON error envelope (a proxy's HTML page, say):
 * its code is then {@see ApiException::UNEXPECTED_RESPONSE}.
 *
 * {@see \Exception::getCode()} returns the HTTP status as well.
 */
class ApiException extends \RuntimeException implements MailPassException
{
    /** The code given to an answer that is not the API's JSON error envelope. */
    public const UNEXPECTED_RESPONSE = 'UNEXPECTED_RESPONSE';

    /** @var array<string, class-string<ApiException>> */
    private const CLASSES = [
        'VALIDATION_ERROR' => ValidationException::class,
        'UNAUTHORIZED' => UnauthorizedException::class,
        'FORBIDDEN' => ForbiddenException::class,
        'NOT_FOUND' => NotFoundException::class,
        'IDEMPOTENCY_CONFLICT' => IdempotencyConflictException::class,
        'MESSAGE_NOT_SCHEDULED' => MessageNotScheduledException::class,
        'TEMPLATE_IN_USE' => TemplateInUseException::class,
        'WEBHOOK_DISABLED' => WebhookDisabledException::class,
        'PAYLOAD_TOO_LARGE' => PayloadTooLargeException::class,
        'NO_SMTP_PROVIDER' => NoSmtpProviderException::class,
        'RECIPIENT_SUPPRESSED' => RecipientSuppressedException::class,
        'DOMAIN_NOT_VERIFIED' => DomainNotVerifiedException::class,
        'SEND_LIMIT_EXCEEDED' => SendLimitExceededException::class,
        'RATE_LIMITED' => RateLimitedException::class,
        'SEND_FAILED' => SendFailedException::class,
        'INTERNAL_ERROR' => InternalErrorException::class,
        'UNAVAILABLE' => UnavailableException::class,
    ];

    private string $errorCode;
    private int $statusCode;
    /** @var array<string, mixed> */
    private array $details;
    private ?int $retryAfter;

    /**
     * @param array<string, mixed> $details
     */
    final public function __construct(
        string $message,
        string $errorCode,
        int $statusCode,
        array $details = [],
        ?int $retryAfter = null,
        ?\Throwable $previous = null
    ) {
        parent::__construct($message, $statusCode, $previous);
        $this->errorCode = $errorCode;
        $this->statusCode = $statusCode;
        $this->details = $details;
        $this->retryAfter = $retryAfter;
    }

    /**
     * The exception for an error code: its documented subclass, else ApiException.
     *
     * @param array<string, mixed> $details
     */
    public static function forCode(
        string $errorCode,
        string $message,
        int $statusCode,
        array $details = [],
        ?int $retryAfter = null
    ): self {
        $class = self::CLASSES[$errorCode] ?? self::class;

        return new $class($message, $errorCode, $statusCode, $details, $retryAfter);
    }

    /** The API's error code, e.g. "VALIDATION_ERROR", or "UNEXPECTED_RESPONSE". */
    public function getErrorCode(): string
    {
        return $this->errorCode;
    }

    /** The HTTP status of the answer. */
    public function getStatusCode(): int
    {
        return $this->statusCode;
    }

    /**
     * The API's `error.details` (field errors for VALIDATION_ERROR, `message_id` and
     * `provider_error` for SEND_FAILED...); an empty array when there are none.
     *
     * @return array<string, mixed>
     */
    public function getDetails(): array
    {
        return $this->details;
    }

    /**
     * The message the error is about (`details.message_id`), when the API names one:
     * SEND_FAILED, RECIPIENT_SUPPRESSED and MESSAGE_NOT_SCHEDULED.
     */
    public function getMessageId(): ?string
    {
        $id = $this->details['message_id'] ?? null;

        return is_string($id) ? $id : null;
    }

    /**
     * Seconds to wait before trying again, from the answer's Retry-After header (or
     * `details.retry_after`); null when the answer gave none. Set on RATE_LIMITED and
     * SEND_LIMIT_EXCEEDED.
     */
    public function getRetryAfter(): ?int
    {
        return $this->retryAfter;
    }
}
