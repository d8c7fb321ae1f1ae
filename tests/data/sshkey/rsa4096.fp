4096 SHA256:l7yhjlizVG158iTQTV+EsCBfraKaClzrAPPtlr4Z8Yk rsa4096@eic-test (RSA)
