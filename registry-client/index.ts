/** registry-client: public surface (grows with its issue). */
export {};
