"""A django-cas-server project that the kiosk's tests run on loopback as their CAS 3.0 server."""
