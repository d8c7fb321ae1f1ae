3072 SHA256:kGH/VfrRjt2jsSa0a/gAUPdUCxvrIJAy4h0yUnaet5s rsa3072@eic-test (RSA)
