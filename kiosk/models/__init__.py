"""All models, importable from one place."""

from .audit import AuditEntry
from .campaign import Campaign, CampaignElp, CampaignVet
from .groups import ASSIGNMENT_MODES, CampaignCollection, Group, GroupCollection, GroupMembership, WaitlistEntry
from .ip import IP_ORIGINS, IP_STATUSES, Ip, IpSelection, IpVersion
from .outbox import OutboxMail
from .reminders import REMINDER_KINDS, ReminderAction, ReminderSent, ScheduledReminderRun
from .staff import StaffUser, staff_cip
from .structure import Cip, Elp, ListLink, Lse, LseMember, Nature, Vet
from .students import AcquiredElp, Block, BlockCode, Ia, OwedElp, Student

__all__ = [
    "ASSIGNMENT_MODES", "CampaignCollection", "Group", "GroupCollection", "GroupMembership", "WaitlistEntry",
    "AcquiredElp", "AuditEntry", "Block", "BlockCode", "Campaign", "CampaignElp", "CampaignVet",
    "Cip", "Elp", "IP_ORIGINS", "IP_STATUSES", "Ia", "Ip", "IpSelection", "IpVersion",
    "ListLink", "Lse", "StaffUser", "staff_cip", "LseMember", "Nature", "OutboxMail", "OwedElp", "Student", "Vet",
    "REMINDER_KINDS", "ReminderAction", "ReminderSent", "ScheduledReminderRun",
]
