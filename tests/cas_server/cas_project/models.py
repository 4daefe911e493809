from django.conf import settings
from django.db import models


class DirectoryEntry(models.Model):
    """The attributes the university directory would hold for a user, such as supannEtuId."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="directory_entry")
    attributes = models.JSONField(default=dict)  # attribute name to a list of values
