"""The CAS authentication class of the test server."""

from cas_server.auth import DjangoAuthUser

from .models import DirectoryEntry


class DirectoryAuthUser(DjangoAuthUser):
    """Check the password of a Django user and release the attributes of its directory entry."""

    def attributs(self):  # the name cas_server.auth.AuthUser defines
        if self.user is None:
            return {}
        try:
            return dict(self.user.directory_entry.attributes)
        except DirectoryEntry.DoesNotExist:
            return {}
