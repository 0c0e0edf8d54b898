"""Performance reports for marketers: validations, sales, costs and returns per group and bucket."""
