"""History: what the gateway keeps of conversations on the caller's behalf (stored Responses API
responses today; chat sessions later). Everything here is scoped by user AND key environment."""
