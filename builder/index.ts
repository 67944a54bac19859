/** builder: public surface (grows with its issue). */
export {};
