"""The web console: server-rendered pages for marketers, affiliates,
accountants and admins, beside the JSON API and on the same services.

An edge like the JSON routes: it imports the domains' services, nothing
imports it (``promo.app`` mounts it).
"""
