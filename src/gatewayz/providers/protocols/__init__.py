"""Pure translations between OpenAI chat completions and other providers' native wire formats."""
