"""Webhooks: subscriptions to events (promo.events), signed deliveries from the
outbox, retries for up to three days, and redelivery.

A fan-out job hands each committed event to the active subscriptions that
want it (one delivery row and one ``webhook_delivery`` job each); a delivery
job POSTs the event, signed per Standard Webhooks, and logs every attempt.
Nothing here runs on the checkout's path: the checkout only writes its event.
"""
