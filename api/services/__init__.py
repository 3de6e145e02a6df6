"""The writes of the api app, one module per domain:

  keys          API keys: create, revoke, note a use
  sending       /send now, /send-batch into the queue, failed messages back into it
  suppressions  the account's suppression list, one-click unsubscribes
  events        opens and clicks from tracking links, events ESPs report by webhook
  templates     templates and their versions: create, change, roll back, delete, render
  scheduling    scheduled messages: the time's bounds, cancel, reschedule
  testmode      what happens to a test key's message instead of a provider
  webhooks      webhook endpoints: create, change, rotate secrets; test events, retries

Every public name is re-exported here, so a caller need not know which module holds it.
"""

from api.services.events import event_record_click, event_record_open, provider_event_record
from api.services.keys import api_key_create, api_key_mark_used, api_key_revoke
from api.services.scheduling import message_cancel, message_reschedule
from api.services.sending import (
    TRACKING_FIELDS,
    TRACKING_REFUSAL,
    BatchItemResult,
    InvalidItem,
    batch_enqueue,
    message_send,
    message_send_test,
    messages_requeue_failed,
)
from api.services.suppressions import (
    message_unsubscribe,
    suppression_add,
    suppression_remove,
    suppression_text,
)
from api.services.templates import (
    template_create,
    template_delete,
    template_render,
    template_roll_back,
    template_update,
    template_version_get,
)
from api.services.webhooks import (
    webhook_create,
    webhook_delete,
    webhook_delivery_retry,
    webhook_rotate_secret,
    webhook_send_test,
    webhook_update,
)

__all__ = [
    "TRACKING_FIELDS",
    "TRACKING_REFUSAL",
    "BatchItemResult",
    "InvalidItem",
    "api_key_create",
    "api_key_mark_used",
    "api_key_revoke",
    "batch_enqueue",
    "event_record_click",
    "event_record_open",
    "message_cancel",
    "message_reschedule",
    "message_send",
    "message_send_test",
    "message_unsubscribe",
    "messages_requeue_failed",
    "provider_event_record",
    "suppression_add",
    "suppression_remove",
    "suppression_text",
    "template_create",
    "template_delete",
    "template_render",
    "template_roll_back",
    "template_update",
    "template_version_get",
    "webhook_create",
    "webhook_delete",
    "webhook_delivery_retry",
    "webhook_rotate_secret",
    "webhook_send_test",
    "webhook_update",
]
