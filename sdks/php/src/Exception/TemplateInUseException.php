<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * TEMPLATE_IN_USE (409): the template cannot be deleted while scheduled messages still use
 * it; details.scheduled counts them. Cancel them (or wait until they are sent) and delete
 * again.
 */
class TemplateInUseException extends ApiException
{
}
