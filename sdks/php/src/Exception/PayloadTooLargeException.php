<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * PAYLOAD_TOO_LARGE (413): the request body is over the instance's size limit (10 MiB by
 * default).
 */
class PayloadTooLargeException extends ApiException
{
}
