"""Branches of a conversation: the tree view, forking a chat, deleting a subtree."""
