/** The comparison point: an express app that only parses the JSON and answers, nothing stored. */
import express from 'express';

const app = express();
app.use(express.json({ type: () => true, limit: '256kb' }));
app.post('/webhooks/rapidpro/referral', (req, res) => {
  res.status(202).json({ status: 'accepted', reference: 'AAAA2222', duplicate: typeof req.body !== 'object' });
});
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening ${(server.address() as { port: number }).port}`);
});
