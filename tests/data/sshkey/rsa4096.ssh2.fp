4096 SHA256:l7yhjlizVG158iTQTV+EsCBfraKaClzrAPPtlr4Z8Yk no comment (RSA)
