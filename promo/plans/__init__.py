"""Commission plans: how affiliates' sales and conversions are priced (promo.plans.pricing)."""
