"""Two-sided referral programs: referrers' personal codes and their rewards."""
