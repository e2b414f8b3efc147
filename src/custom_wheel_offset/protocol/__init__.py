"""Protocol knowledge of the two hosts as pure functions: values in, URLs out; bytes in, records."""
