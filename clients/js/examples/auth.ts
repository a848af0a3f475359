import NextAuth from 'next-auth';
import authConfig from './auth.config';

// Auth.js v5 (next-auth@5): auth.ts at the root of a Next.js app.
export const { handlers, auth, signIn, signOut } = NextAuth(authConfig);
