"""Full screens and modal screens of the app."""
