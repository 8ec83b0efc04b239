"""A customer's identity within a project (pure)."""


def identify_customer(user_id: str | None, email: str | None) -> str:
    """A customer's identity within a project: its user_id if it has one, else its e-mail address.

    The two are prefixed so that a user_id that looks like an address never meets an e-mail identity.
    """
    if user_id is not None:
        return f"u#{user_id}"
    if email is not None:
        return f"e#{email}"
    raise ValueError("a customer needs a user_id or an email")
