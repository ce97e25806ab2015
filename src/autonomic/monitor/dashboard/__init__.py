"""The monitor's web side: the page (static and live), the login and CSRF guard, the web app."""
