"""The watch of the platforms themselves: during an incident every held account's posts are
listed on its platform at an interval per platform, and a post Lockdown did not send (an
out-of-band post) is recorded, put on the timeline, told to the press team, ERMC and the
account's manager, and can be deleted in one action."""
